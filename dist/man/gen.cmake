# Make one man page: IN with @ZH_VERSION@ and @ZH_SETTINGS@ (the output of
# PROGRAM --settings-man, when PROGRAM is given) filled in, gzipped for
# installing. cmake -DIN=... -OUT=... [-DPROGRAM=...] -DVERSION=... -P gen.cmake
file(READ ${IN} text)
set(settings "")
if(PROGRAM)
  execute_process(COMMAND ${PROGRAM} --settings-man OUTPUT_VARIABLE settings
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${PROGRAM} --settings-man failed")
  endif()
  string(STRIP "${settings}" settings)
endif()
string(REPLACE "@ZH_SETTINGS@" "${settings}" text "${text}")
string(REPLACE "@ZH_VERSION@" "${VERSION}" text "${text}")
file(WRITE ${OUT} "${text}")
execute_process(COMMAND gzip -9nf ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${OUT} failed")
endif()
