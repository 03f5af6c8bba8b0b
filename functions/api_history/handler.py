"""Lambda entry point for /api/v1/history/*: the investigation history router in the
shared app factory.

Built at module scope so the pools and the app survive across warm invocations.
"""

from faultmaven.app import create_app
from faultmaven.history.api import router
from faultmaven.lambda_entry import asgi_handler

app = create_app(routers=[router])
handler = asgi_handler(app)
