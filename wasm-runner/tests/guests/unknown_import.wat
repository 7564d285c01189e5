;; Imports a host function that does not exist.
(module
  (import "env" "launch_missiles" (func $launch))
  (func (export "_start") (call $launch)))
