"""Language-model providers behind `core.ports.LanguageModel`.

Each module is imported only by the composition root, and none imports its vendor SDK at
module level: `anthropic` costs ≈ 2 s of cold import, paid on first use (or in `warm()`,
under a SnapStart init), never by a function that does not call a model.
"""
