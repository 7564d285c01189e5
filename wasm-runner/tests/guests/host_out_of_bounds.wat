;; Hands a host function a pointer/length pair that runs past the end of its memory.
(module
  (import "env" "log_info" (func $log_info (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $log_info (i32.const 65000) (i32.const 4096))))
