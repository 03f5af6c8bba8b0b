"""The agent: one chat turn answers a question from the case's evidence and knowledge,
with citations (issue 13). See `service.AgentService.turn`."""
