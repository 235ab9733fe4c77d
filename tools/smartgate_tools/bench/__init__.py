"""`smartgate bench`: the whole pipeline and the naive baseline on sample footage, scored against its ground truth."""
