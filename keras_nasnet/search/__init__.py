"""Neural architecture search over NASNet cells (controller, oracle, child training)."""
