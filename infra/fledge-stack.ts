// The stack `cdk deploy` creates: a RolloutOrchestrator and the outputs an operator needs next.
import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RolloutOrchestrator } from './rollout-orchestrator';
import type { RolloutOrchestratorProps } from './rollout-orchestrator';

export interface FledgeStackProps extends StackProps {
  readonly orchestrator: RolloutOrchestratorProps;
}

export class FledgeStack extends Stack {
  public readonly orchestrator: RolloutOrchestrator;

  constructor(scope: Construct, id: string, props: FledgeStackProps) {
    super(scope, id, {
      description: 'Fledge: canary rollouts on EKS, started by ECR pushes, run by Step Functions',
      ...props,
    });
    // The construct ID is part of every resource's logical ID: renaming it replaces them all.
    this.orchestrator = new RolloutOrchestrator(this, 'Orchestrator', props.orchestrator);
    const { stateMachine, notificationTopic, rbacManifest } = this.orchestrator;

    new CfnOutput(this, 'StateMachineArn', { value: stateMachine.stateMachineArn });
    new CfnOutput(this, 'ExecutionsConsoleUrl', {
      description: 'Where each rollout shows its states, weights, metrics and decision',
      value: `https://${this.region}.console.aws.amazon.com/states/home?region=${this.region}#/statemachines/view/${stateMachine.stateMachineArn}`,
    });
    new CfnOutput(this, 'NotificationTopicArn', {
      description: 'Subscribe to it to hear when a rollback fails',
      value: notificationTopic.topicArn,
    });
    new CfnOutput(this, 'KubernetesRbac', {
      description: 'kubectl apply -f this once per cluster: lets the Lambdas edit HTTPRoutes',
      value: rbacManifest,
    });
  }
}
