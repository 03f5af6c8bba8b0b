"""Knowledge bases: user runbooks (shareable), the global KB, case working memory, and
search over whichever of them the caller may read.

PostgreSQL holds documents and shares (the truth); the vector store holds derived chunks
with their reader tokens. Writes embed first (nothing is stored if the model fails), then
commit the row, then write the chunks; deletes remove chunks first, then the row. No
transaction is open while the model embeds or the index is written.

`KnowledgeService` is the one object the router, the container, the CLI, the seed and the
upload trigger use; each concern is a part of its own, all built on `base.ServiceBase`
(dependencies, embedding, access decisions) and `writing.Writer` (storing text):

- `documents`: inline documents, user and global: create, list, read, change, delete
- `uploads`: presigned uploads and their ingestion on the S3 notification
- `shares`: sharing a document and revoking it
- `search`: hybrid search with the re-check against PostgreSQL
- `memory`: case working memory (`core.ports.CaseMemory`)
- `reindex`: rebuilding chunks from PostgreSQL, and the global KB seed
- `owners`: a user exporting their documents, erasing them or handing them over
"""

from __future__ import annotations

from faultmaven.knowledge.base import RequireCaseAccess
from faultmaven.knowledge.documents import Documents
from faultmaven.knowledge.memory import CaseMemory
from faultmaven.knowledge.owners import Owners
from faultmaven.knowledge.reindex import Reindexing
from faultmaven.knowledge.search import CANDIDATE_FACTOR, MIN_CANDIDATES, Mode, Search
from faultmaven.knowledge.shares import Shares
from faultmaven.knowledge.uploads import Uploads

__all__ = ["CANDIDATE_FACTOR", "MIN_CANDIDATES", "KnowledgeService", "Mode", "RequireCaseAccess"]


class KnowledgeService(Documents, Uploads, Shares, Search, CaseMemory, Owners, Reindexing):
    """Constructed as `ServiceBase.__init__` says: the database, the vector store, the
    embedder, the case access check, and the size limits and object store for uploads."""
