"""Lambda entry point for /api/v1/knowledge/*: documents, shares, the global KB and
search, in the shared app factory.

Built at module scope so the pools and the app survive across warm invocations.
"""

from faultmaven.app import create_app
from faultmaven.compat.knowledge_api import router as compat_knowledge
from faultmaven.knowledge.api import router
from faultmaven.lambda_entry import asgi_handler

app = create_app(routers=[router, compat_knowledge])
handler = asgi_handler(app)
