package wallet

// RefillCopies tops up a device's batch copies now, as the background
// refill does (benchmarks time it).
var RefillCopies = (*Service).refillCopies

// SweepCompactCodes deletes offline codes past their retention now, as
// the background loop does once a minute.
var SweepCompactCodes = (*Service).sweepCompactCodes
