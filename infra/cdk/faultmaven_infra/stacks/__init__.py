"""The deployable units, ordered by what they need: network → data → pipelines → api,
and schedules beside them."""
