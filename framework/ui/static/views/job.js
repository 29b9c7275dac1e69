// #/jobs/<id> (the shell's route "job"): one job, its runs and output; see jobs.js.
export { mount } from "./jobs.js";
