"""Lambda entry point for /api/v1/auth/*, /api/v1/organizations/* and /api/v1/teams/*:
identity, the user's data rights (export, deletion) and the groups users belong to, in
the shared app factory.

Built at module scope so the pools and the app survive across warm invocations.
"""

from faultmaven.app import create_app
from faultmaven.auth.api import router as auth_router
from faultmaven.compat.auth_api import router as compat_auth
from faultmaven.compat.teams_api import router as compat_teams
from faultmaven.lambda_entry import asgi_handler
from faultmaven.organizations.api import router as organizations_router
from faultmaven.privacy.api import router as privacy_router

app = create_app(
    routers=[auth_router, privacy_router, organizations_router, compat_auth, compat_teams]
)
handler = asgi_handler(app)
