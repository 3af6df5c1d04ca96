# bench/mta — the side-by-side harness behind `make bench`: private postern and
# Postfix instances, the load generators, the scenarios and the report.
