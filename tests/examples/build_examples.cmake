# Installs libeasyenclave into a staging prefix, then configures, builds and runs each example
# against that install, as an embedder would, with the project's warnings as errors. The embedding
# examples then run together (run_examples.py: custom-cp, embed-agent and hello-tdx/deploy.py).
# Arguments: BUILD_DIR, SOURCE_DIR, WORK_DIR, TESTDATA, PROGRAM_DIR (ee-fake-github), PYTHON.
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
set(warnings "-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast")
string(APPEND warnings " -Woverloaded-virtual -Wimplicit-fallthrough -Wno-mismatched-new-delete -Werror")
foreach(example verify-quote embed-agent custom-cp)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/${example} -B ${WORK_DIR}/${example} -G Ninja
      -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS=${warnings}")
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/${example})
endforeach()

run(${WORK_DIR}/verify-quote/verify-quote ${TESTDATA}/attestation/quotes/tdx_v4_dcapqvl.dat
    ${TESTDATA}/attestation/collateral/dcapqvl_tdx_b0c06f000000.json 1752919234)
if(NOT last_output MATCHES "ACCEPTED  tcb_status=UpToDate")
  message(FATAL_ERROR "verify-quote did not accept the test vector:\n${last_output}")
endif()

run(${PYTHON} ${SOURCE_DIR}/tests/examples/run_examples.py --work ${WORK_DIR}/run
    --custom-cp ${WORK_DIR}/custom-cp/custom-cp --embed-agent ${WORK_DIR}/embed-agent/embed-agent
    --fake-github ${PROGRAM_DIR}/ee-fake-github --hello-tdx ${SOURCE_DIR}/examples/hello-tdx)
message(STATUS "${last_output}")
message(STATUS "examples build and run against the installed library")
file(REMOVE_RECURSE ${WORK_DIR})
