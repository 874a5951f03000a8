# Installs libeasyenclave into a staging prefix, then configures, builds and runs each example
# against that install, as an embedder would. Arguments: BUILD_DIR, SOURCE_DIR, WORK_DIR, TESTDATA.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component dev)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/verify-quote -B ${WORK_DIR}/verify-quote -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/verify-quote)
run(${WORK_DIR}/verify-quote/verify-quote ${TESTDATA}/attestation/quotes/tdx_v4_dcapqvl.dat
    ${TESTDATA}/attestation/collateral/dcapqvl_tdx_b0c06f000000.json 1752919234)
if(NOT last_output MATCHES "ACCEPTED  tcb_status=UpToDate")
  message(FATAL_ERROR "verify-quote did not accept the test vector:\n${last_output}")
endif()
message(STATUS "examples build and run against the installed library")
file(REMOVE_RECURSE ${WORK_DIR})
