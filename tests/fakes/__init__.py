"""Local stand-ins for the providers Varsla talks to (Twilio, SMTP), for tests and benchmarks."""
