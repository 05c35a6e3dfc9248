// Application Load Balancers in moto_server for the ALB tests: a VPC with two subnets, load balancers, target groups and weighted listeners.
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { queryString, signRequest } from '../../lambdas/adapters/metrics/sigv4';
import { MOTO_CREDENTIALS } from './moto-server';

const xmlValue = (xml: string, tag: string): string => {
  const value = new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(xml)?.[1];
  if (value === undefined) throw new Error(`no <${tag}> in ${xml}`);
  return value;
};

export interface MotoElb {
  readonly client: ElasticLoadBalancingV2Client;
  /** A new ALB in the VPC's two subnets; its ARN. */
  loadBalancer(name: string): Promise<string>;
  /** A new HTTP target group of IP targets in the VPC; its ARN. */
  targetGroup(name: string): Promise<string>;
  /** A listener on `port` forwarding to the target groups with these weights, as the controller makes it: attaches them to the load balancer. */
  forward(loadBalancerArn: string, port: number, weights: readonly (readonly [string, number])[]): Promise<void>;
}

/** ELBv2 on moto in `region`, with the VPC and two subnets moto requires before it creates a load balancer. */
export async function motoElb(motoUrl: string, region: string): Promise<MotoElb> {
  /** moto's EC2 Query API, signed as the SDK would sign it (@aws-sdk/client-ec2 is not a dependency); returns the XML answer. */
  async function ec2(action: string, params: [string, string][]): Promise<string> {
    const url = new URL(`${motoUrl}/`);
    const body = queryString([['Action', action], ['Version', '2016-11-15'], ...params]);
    const headers = await signRequest({ method: 'POST', url, body }, { service: 'ec2', region, credentials: MOTO_CREDENTIALS });
    const response = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body });
    const text = await response.text();
    if (!response.ok) throw new Error(`EC2 ${action} answered ${response.status}: ${text}`);
    return text;
  }

  const client = new ElasticLoadBalancingV2Client({ endpoint: motoUrl, region, credentials: MOTO_CREDENTIALS });
  // moto refuses CreateLoadBalancer without subnets (SubnetNotFound): a VPC and two subnets first.
  const vpc = xmlValue(await ec2('CreateVpc', [['CidrBlock', '10.0.0.0/16']]), 'vpcId');
  const subnets = [
    xmlValue(await ec2('CreateSubnet', [['VpcId', vpc], ['CidrBlock', '10.0.1.0/24'], ['AvailabilityZone', `${region}a`]]), 'subnetId'),
    xmlValue(await ec2('CreateSubnet', [['VpcId', vpc], ['CidrBlock', '10.0.2.0/24'], ['AvailabilityZone', `${region}b`]]), 'subnetId'),
  ];
  return {
    client,
    async loadBalancer(name) {
      const output = await client.send(new CreateLoadBalancerCommand({ Name: name, Type: 'application', Subnets: subnets }));
      return output.LoadBalancers![0].LoadBalancerArn!;
    },
    async targetGroup(name) {
      const output = await client.send(new CreateTargetGroupCommand({ Name: name, Protocol: 'HTTP', Port: 80, VpcId: vpc, TargetType: 'ip' }));
      return output.TargetGroups![0].TargetGroupArn!;
    },
    async forward(loadBalancerArn, port, weights) {
      await client.send(
        new CreateListenerCommand({
          LoadBalancerArn: loadBalancerArn,
          Protocol: 'HTTP',
          Port: port,
          DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: weights.map(([TargetGroupArn, Weight]) => ({ TargetGroupArn, Weight })) } }],
        }),
      );
    },
  };
}
