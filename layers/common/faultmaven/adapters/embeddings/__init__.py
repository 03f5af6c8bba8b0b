"""Embedding adapters: a local model shipped in a package, and Bedrock Titan."""
