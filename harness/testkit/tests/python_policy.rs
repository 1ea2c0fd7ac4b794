//! The policy for Python tools: a moto at another version than the pinned one, first on the
//! machine's own Python path, is never what a test runs. (One test in its own binary: it sets
//! `PYTHONPATH` for the whole process.)

use std::process::Command;

#[test]
fn a_wrong_moto_on_the_python_path_is_never_used() {
    let fake = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fake.path().join("moto")).unwrap();
    std::fs::write(fake.path().join("moto/__init__.py"), "__version__ = '5.2.1'\n").unwrap();
    let dist = fake.path().join("moto-5.2.1.dist-info");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("METADATA"), "Metadata-Version: 2.1\nName: moto\nVersion: 5.2.1\n").unwrap();
    // SAFETY: the only test of this binary, before any thread of its own starts.
    unsafe { std::env::set_var("PYTHONPATH", fake.path()) };

    // The trap is real: the machine's python3 now finds moto 5.2.1 first.
    let seen = Command::new("python3")
        .args(["-c", "import importlib.metadata as m; print(m.version('moto'))"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match seen {
        Ok(v) => assert_eq!(v, "5.2.1", "the fake moto is first on the machine's Python path"),
        Err(e) => return testkit::unavailable("python3", &e.to_string()),
    }

    let python = match testkit::python::python() {
        Ok(python) => python,
        Err(why) => return testkit::unavailable("the pinned Python tools", &why),
    };
    assert_eq!(python.version_of("moto").unwrap(), testkit::moto::VERSION);
    let out = python.command().args(["-c", "import moto; print(moto.__file__)"]).output().unwrap();
    let file = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        std::path::Path::new(&file).starts_with(python.root()),
        "moto imported from {file}, not from the provisioned environment {}",
        python.root().display()
    );
    // And the moto server the differential tests start is that one.
    let moto = testkit::moto::Moto::start(false).unwrap_or_else(|e| panic!("{e}"));
    assert!(moto.port > 0);
}
