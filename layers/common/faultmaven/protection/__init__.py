"""Protection: rate limits, client reputation and the archive of what they refused."""
