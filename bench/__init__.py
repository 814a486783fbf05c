"""Speed benchmarks and reliability soaks (impairment proxy, fuzzing, floods, churn)."""
