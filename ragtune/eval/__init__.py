"""eval: answer, retrieval and grounding metrics, and the eval runner and report."""
