# Run by `cmake --install` (`make install`): the native-messaging host
# manifests of jpki-native-host for Chromium and Firefox, written at install
# time so that they name the host where it was installed (--prefix may
# differ from the configured one). The directories are the browsers'
# system-wide ones unless the environment names others (the tests install
# into a private browser profile):
#   JPKI_CHROMIUM_HOSTS_DIR  default /etc/chromium/native-messaging-hosts
#   JPKI_FIREFOX_HOSTS_DIR   default /usr/lib/mozilla/native-messaging-hosts
# Set before this script: JPKI_BRIDGE_EXTENSION_ID, JPKI_BRIDGE_GECKO_ID,
# JPKI_BRIDGE_BINDIR.
set(chromium_dir /etc/chromium/native-messaging-hosts)
set(firefox_dir /usr/lib/mozilla/native-messaging-hosts)
if(DEFINED ENV{JPKI_CHROMIUM_HOSTS_DIR})
  set(chromium_dir "$ENV{JPKI_CHROMIUM_HOSTS_DIR}")
endif()
if(DEFINED ENV{JPKI_FIREFOX_HOSTS_DIR})
  set(firefox_dir "$ENV{JPKI_FIREFOX_HOSTS_DIR}")
endif()
if(IS_ABSOLUTE "${JPKI_BRIDGE_BINDIR}")
  set(host "${JPKI_BRIDGE_BINDIR}/jpki-native-host")
else()
  set(host "${CMAKE_INSTALL_PREFIX}/${JPKI_BRIDGE_BINDIR}/jpki-native-host")
endif()
set(description "OpenJPKI: the My Number card for web pages (docs/BROWSER.md)")
foreach(browser chromium firefox)
  if(browser STREQUAL "chromium")
    set(allowed "\"allowed_origins\": [\"chrome-extension://${JPKI_BRIDGE_EXTENSION_ID}/\"]")
  else()
    set(allowed "\"allowed_extensions\": [\"${JPKI_BRIDGE_GECKO_ID}\"]")
  endif()
  set(file "$ENV{DESTDIR}${${browser}_dir}/jp.openjpki.bridge.json")
  message(STATUS "Installing: ${file}")
  file(WRITE "${file}" "{\n  \"name\": \"jp.openjpki.bridge\",\n  \"description\": \"${description}\",\n  \"path\": \"${host}\",\n  \"type\": \"stdio\",\n  ${allowed}\n}\n")
endforeach()
