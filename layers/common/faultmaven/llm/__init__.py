"""The language-model gateway: every model call in the product goes through
`service.LanguageModels`, which redacts, budgets, retries, falls back and records."""
