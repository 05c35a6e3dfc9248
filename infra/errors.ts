// Errors the CDK app throws at synth time; each message names the prop, file or path and the value received.

/** A RolloutOrchestrator prop, a manifest or the state machine definition is wrong: `cdk synth` stops here. */
export class OrchestratorConfigError extends Error {
  override readonly name = 'OrchestratorConfigError';
}
