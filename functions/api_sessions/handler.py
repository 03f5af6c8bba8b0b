"""Lambda entry point for /api/v1/sessions/*: the sessions router in the shared app factory.

Built at module scope so the pools and the app survive across warm invocations.
"""

from faultmaven.app import create_app
from faultmaven.compat.sessions_api import router as compat_sessions
from faultmaven.lambda_entry import asgi_handler
from faultmaven.sessions.api import router

app = create_app(routers=[router, compat_sessions])
handler = asgi_handler(app)
