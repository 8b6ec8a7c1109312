# Installing libconec for other programs: the public headers (include/conec/),
# libconec.so (SONAME libconec.so.<major>) and libconec.a, a CMake package
# (find_package(conec) -> conec::conec, the shared library, and
# conec::conec_static) and a pkg-config file (conec.pc).
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/conec DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS conec_shared conec_static EXPORT conecTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(conec_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/conec)
install(EXPORT conecTargets NAMESPACE conec:: DESTINATION ${conec_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/conecConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/conecConfig.cmake INSTALL_DESTINATION ${conec_cmake_dir})
# 0.x: a minor version may break the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/conecConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/conecConfig.cmake ${PROJECT_BINARY_DIR}/conecConfigVersion.cmake
        DESTINATION ${conec_cmake_dir})

configure_file(${PROJECT_SOURCE_DIR}/cmake/conec.pc.in ${PROJECT_BINARY_DIR}/conec.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/conec.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
