/**
 * The broker's authorizer: Kafka's `authorizer.class.name` set to its standard authorizer
 * (`org.apache.kafka.metadata.authorizer.StandardAuthorizer`, or the older
 * `kafka.security.authorizer.AclAuthorizer`, same rules) turns it on; unset, every request is
 * allowed and the ACL APIs answer SECURITY_DISABLED, as Kafka without an authorizer does.
 *
 * It follows the ACL bindings of the metadata store (every broker sees the same bindings; a
 * change reaches each broker as the store reports it) and applies the rules of acls.ts with
 * `super.users` and `allow.everyone.if.no.acl.found`. Every decision is counted by operation,
 * resource type and result (brook_authorizer_decisions_total) for dashboards and alerts.
 */
import type { BrokerSettings } from '../config.ts';
import { ConfigError } from '../config.ts';
import type { AclBinding, MetadataStore } from '../metadata/index.ts';
import { authorize, authorizeAny, parseSuperUsers, type AuthorizerConfig, type Resource } from './acls.ts';

/** The class names Kafka users set; both mean Kafka's standard ACL rules. */
export const STANDARD_AUTHORIZERS: ReadonlySet<string> = new Set([
  'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  'kafka.security.authorizer.AclAuthorizer',
]);

export interface AuthorizerDecision {
  readonly operation: number;
  readonly resourceType: number;
  readonly allowed: boolean;
}

export class Authorizer {
  private acls: readonly AclBinding[] = [];
  private readonly config: AuthorizerConfig;
  private readonly unwatch: () => void;
  private readonly onDecision: (d: AuthorizerDecision) => void;

  private constructor(store: Pick<MetadataStore, 'watchAcls'>, config: AuthorizerConfig, onDecision: (d: AuthorizerDecision) => void) {
    this.config = config;
    this.onDecision = onDecision;
    this.unwatch = store.watchAcls((acls) => { this.acls = acls; });
  }

  /** The authorizer the settings ask for, or null when `authorizer.class.name` is empty. */
  static fromSettings(settings: BrokerSettings, store: Pick<MetadataStore, 'watchAcls'>, onDecision: (d: AuthorizerDecision) => void = () => {}): Authorizer | null {
    const className = (settings.get('authorizer.class.name') ?? '').trim();
    if (className === '') return null;
    if (!STANDARD_AUTHORIZERS.has(className)) {
      throw new ConfigError(`authorizer.class.name=${className} is not an authorizer Brook has: set ${[...STANDARD_AUTHORIZERS][0]} (Kafka's ACL rules) or leave it empty`);
    }
    return new Authorizer(store, {
      superUsers: parseSuperUsers(settings.get('super.users')),
      allowIfNoAcl: settings.bool('allow.everyone.if.no.acl.found'),
    }, onDecision);
  }

  /** Whether `principal` (`User:alice`) connecting from `host` may do `operation` on `resource`. */
  authorize(principal: string, host: string, operation: number, resource: Resource): boolean {
    const allowed = authorize(this.acls, this.config, principal, host, operation, resource);
    this.onDecision({ operation, resourceType: resource.type, allowed });
    return allowed;
  }

  /** Whether the principal may do `operation` on some resource of the type (Kafka's authorizeByResourceType). */
  authorizeAny(principal: string, host: string, operation: number, resourceType: number): boolean {
    return authorizeAny(this.acls, this.config, principal, host, operation, resourceType);
  }

  /** The bindings in force (DescribeAcls, DeleteAcls). */
  bindings(): readonly AclBinding[] { return this.acls; }

  close(): void { this.unwatch(); }
}
