package wallet

// RefillCopies tops up a device's batch copies now, as the background
// refill does (benchmarks time it).
var RefillCopies = (*Service).refillCopies
