"""Static files served by the web layer (banner.js)."""
