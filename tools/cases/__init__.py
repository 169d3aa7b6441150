"""The fraud team's tools: labels (``make labels``), lists (``make lists``) and quality (``make quality``) of an
environment, over the tables its Terraform outputs name (docs/fraud-team.md)."""
