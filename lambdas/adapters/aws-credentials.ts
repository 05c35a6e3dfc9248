// AWS credentials as the SDK's providers return them, shared by everything Fledge signs itself (EKS tokens, AMP queries).

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When temporary credentials stop working. @default - they do not expire */
  readonly expiration?: Date;
}

/** Resolves the credentials to sign with; the SDK's providers cache and refresh on their own. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;
