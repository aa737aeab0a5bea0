"""serve: the HTTP API and web page."""
