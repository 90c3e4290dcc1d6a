# ctest check for `lossdoctor-bench zoo --keep-reports DIR`: every run named in RUNS (a
# ;-separated list of CASE-SEED names) left DIR/CASE-SEED.json behind, and each is a diagnosis
# report (a JSON object with a verdict). Run: cmake -DDIR=... -DRUNS="a-0;b-0" -P this file.
if(NOT DIR OR NOT RUNS)
  message(FATAL_ERROR "usage: cmake -DDIR=FOLDER -DRUNS=CASE-SEED;... -P check_kept_reports.cmake")
endif()
foreach(run IN LISTS RUNS)
  set(report "${DIR}/${run}.json")
  if(NOT EXISTS "${report}")
    message(FATAL_ERROR "${report}: not kept")
  endif()
  file(READ "${report}" text)
  string(JSON verdict ERROR_VARIABLE error GET "${text}" verdict)
  if(error)
    message(FATAL_ERROR "${report}: no verdict (${error})")
  endif()
  message(STATUS "${run}: ${verdict}")
endforeach()
