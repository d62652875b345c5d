"""The training flow: datasets for a time plan, the stages, fit per target, train, retrain,
lineage and the run record (the tracked recipe train and retrain share)."""
