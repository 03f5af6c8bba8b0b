"""Vector store adapters: pgvector (PostgreSQL) and OpenSearch."""
