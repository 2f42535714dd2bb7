//! A test workspace attached to a test server: the kubeconfig written into the workspace
//! names the server as context `test`, and the binary runs with `KUBECONFIG` pointing at it.

use super::KubeServer;
use crate::{Background, Output, Workspace};

pub struct Cluster {
    pub server: KubeServer,
    pub w: Workspace,
    pub kubeconfig: String,
}

impl Cluster {
    pub fn new(w: Workspace) -> Cluster {
        let server = KubeServer::start();
        let kubeconfig = server.write_kubeconfig(w.path(), "test").display().to_string();
        Cluster { server, w, kubeconfig }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        crate::runbook(self.w.path(), args)
            .env("KUBECONFIG", &self.kubeconfig)
            .run()
    }

    pub fn background(&self, args: &[&str]) -> Background {
        crate::runbook(self.w.path(), args)
            .env("KUBECONFIG", &self.kubeconfig)
            .start()
    }
}
