"""Scale-out helpers: a team MLflow server on PostgreSQL (and, later, Spark batch scoring)."""
