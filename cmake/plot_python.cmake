# Finds the Python that has Debian's matplotlib, numpy, scipy, pytest and pytest-xdist: the first python3 on
# PATH may be another one (pyenv, a venv) that lacks them, so each candidate is asked, Debian's first.
set(conpar_python_candidates /usr/bin/python3)
find_program(conpar_path_python python3)
if(conpar_path_python)
  list(APPEND conpar_python_candidates ${conpar_path_python})
endif()
set(CONPAR_PYTHON "" CACHE FILEPATH "Python with matplotlib, numpy, scipy, pytest and pytest-xdist, for the report and its tests")
if(NOT CONPAR_PYTHON)
  foreach(candidate IN LISTS conpar_python_candidates)
    execute_process(COMMAND ${candidate} -c "import matplotlib, numpy, scipy, pytest, xdist"
                    RESULT_VARIABLE missing OUTPUT_QUIET ERROR_QUIET)
    if(EXISTS ${candidate} AND missing EQUAL 0)
      set(CONPAR_PYTHON ${candidate} CACHE FILEPATH "Python with matplotlib, numpy, scipy, pytest and pytest-xdist" FORCE)
      break()
    endif()
  endforeach()
endif()
if(NOT CONPAR_PYTHON)
  message(FATAL_ERROR "No python3 with matplotlib, numpy, scipy, pytest and pytest-xdist: run cmake/install-deps.sh "
                      "(python3-matplotlib python3-numpy python3-scipy python3-pytest python3-pytest-xdist)")
endif()
message(STATUS "conpar: report and its tests use ${CONPAR_PYTHON}")
