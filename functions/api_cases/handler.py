"""Lambda entry point for /api/v1/cases/*: the cases and investigation routers in the
shared app factory (the chat turn, `/cases/{id}/query`, has a function of its own).

Built at module scope so the pools and the app survive across warm invocations.
"""

from faultmaven.app import create_app
from faultmaven.cases.api import router
from faultmaven.compat.cases_api import router as compat_cases
from faultmaven.investigation.api import router as investigation
from faultmaven.lambda_entry import asgi_handler

app = create_app(routers=[router, investigation, compat_cases])
handler = asgi_handler(app)
