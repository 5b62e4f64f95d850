//! The floor both training loops stand on: the run folder and every file name
//! in it (`folder`), how a run is stopped and how often it is checkpointed
//! (`control`), the defaults they share (`defaults`), the resumable checkpoint (`checkpoint`), the weights with their
//! optimizer (`weights`, `optim`), a step's gradients (`grads`), the one optimizer
//! step (`step`), and batched class probabilities for validation, test and every
//! mode (`inference`).
//! `train::run` (epochs, validation) and `pretrain::run` (a budget, held-out
//! points, snapshots) keep only what is theirs.

pub mod checkpoint;
pub mod control;
pub mod defaults;
pub mod folder;
pub mod grads;
pub mod inference;
pub mod optim;
pub mod step;
pub mod weights;
