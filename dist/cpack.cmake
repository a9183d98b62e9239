# The Debian package (./quickstart.sh deb → build/deb/zerohour_VERSION_ARCH.deb),
# made by CPack from the install rules of this tree, configured with
# CMAKE_INSTALL_PREFIX=/usr. Maintainer scripts, conffiles and the ldconfig
# trigger are in dist/debian/.
set(ZH_MAINTAINER "zerohour maintainers <zerohour@example.org>")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME zerohour)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${ZH_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "zero-hour email worm detection engine and milter")
# CPack writes the summary as the synopsis and indents these lines.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "zerohour catches mass-mailing worms in the hours before antivirus
signatures exist, by behaviour: MIME structure, attachments and archives,
YARA rules, heuristics, and surges of one payload from many senders.
.
This package contains the engine zerohourd, the milter for Postfix and
Sendmail, the clamd protocol bridge zerohour-clamd (Exim, rspamd,
amavisd-new), the zerohour command line client, libzerohour-client with its
header and pkg-config file, the default rules and systemd units running
as the unprivileged zerohour user.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://zerohour.example.org/")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postfix, prometheus")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/dist/debian/postinst ${PROJECT_SOURCE_DIR}/dist/debian/prerm
  ${PROJECT_SOURCE_DIR}/dist/debian/postrm ${PROJECT_SOURCE_DIR}/dist/debian/conffiles
  ${PROJECT_SOURCE_DIR}/dist/debian/triggers)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/deb-out)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
include(CPack)
