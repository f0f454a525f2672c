"""Search backends behind one interface, and the study lifecycle (launch, resume, status,
export, train). This package may import every other seqtune package; none imports it."""
