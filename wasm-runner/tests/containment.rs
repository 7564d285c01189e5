//! The runner's OS containment, applied to this test process (the only test in this binary,
//! since confinement is for good): no IP sockets, no new processes, threads and Unix sockets
//! still work, the working directory is empty, core dumps are off.

use std::io::ErrorKind;

use orama_wasm_runner::containment::confine;

#[test]
fn a_confined_process_has_no_network_and_starts_no_programs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    let containment = confine(&empty).expect("confine");
    assert_eq!(containment.syscall_filter, Ok(()), "this kernel has seccomp");
    assert!(containment.rlimit_failures.is_empty(), "{:?}", containment.rlimit_failures);
    assert_eq!(std::env::current_dir().expect("cwd"), empty);

    let refused = std::net::TcpStream::connect("127.0.0.1:9").expect_err("no TCP");
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied, "{refused}");
    let refused = std::net::UdpSocket::bind("127.0.0.1:0").expect_err("no UDP");
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied, "{refused}");
    let refused = std::process::Command::new("/bin/true").status().expect_err("no new process");
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied, "{refused}");

    let (a, b) = std::os::unix::net::UnixStream::pair().expect("unix sockets still work");
    drop((a, b));
    let listener = std::os::unix::net::UnixListener::bind(dir.path().join("s.sock")).expect("bind a unix socket");
    drop(listener);
    assert_eq!(std::thread::spawn(|| 41 + 1).join().expect("threads still work"), 42);
    assert_eq!(rustix::process::getrlimit(rustix::process::Resource::Core).maximum, Some(0));
}
