import { type Stack, Token } from "aws-cdk-lib";

/**
 * An ARN as cdk-nag spells it in a finding id: concrete where the stack's environment is known,
 * `<AWS::Region>`-style placeholders where it is not, so one acknowledgement matches both synths.
 */
export function nagArn(stack: Stack, rest: string): string {
  const shown = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
  return `arn:${shown(stack.partition, "Partition")}:${rest
    .replace("%region%", shown(stack.region, "Region"))
    .replace("%account%", shown(stack.account, "AccountId"))}`;
}
