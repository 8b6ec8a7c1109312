# Compiler flags shared by every conec target (interface library `conec_flags`).
add_library(conec_flags INTERFACE)
target_compile_options(conec_flags INTERFACE -Wall -Wextra -Wpedantic -Wshadow)
if(CONEC_WERROR)
  target_compile_options(conec_flags INTERFACE -Werror)
endif()
if(CONEC_SANITIZE)
  target_compile_options(conec_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(conec_flags INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
