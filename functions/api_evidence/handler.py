"""Lambda entry point for /api/v1/cases/{id}/evidence*, /api/v1/evidence/* and
/api/v1/jobs/*: evidence intake and job polling, in the shared app factory."""

from faultmaven.app import create_app
from faultmaven.evidence.api import router as evidence_router
from faultmaven.jobs.api import router as jobs_router
from faultmaven.lambda_entry import asgi_handler

app = create_app(routers=[evidence_router, jobs_router])
handler = asgi_handler(app)
