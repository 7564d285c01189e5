;; Grows its memory 16 MiB at a time, forever.
(module
  (memory 1)
  (func (export "_start") (loop $more (drop (memory.grow (i32.const 256))) (br $more))))
