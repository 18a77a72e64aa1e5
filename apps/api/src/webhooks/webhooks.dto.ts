import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  eventTypePatterns,
  isKnownEventType,
  isValidEventTypePattern,
  listEventTypes,
  supportedVersions,
} from '@tidings/events';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsString,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';
import { IsStringMap } from '../http/string-map.validator';
import { IfPresent, Nullable } from '../http/optional.validator';
import { IsTimestamp } from '../http/timestamp.validator';

// Limits mirror the `webhook.subscription.*` event schemas, so whatever the API accepts can be recorded.
export const MAX_EVENT_TYPES = 50;
export const MAX_DESCRIPTION = 500;

// 50 by default keeps a page small for humans; 200 at most bounds one query and one response body.
export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function versionPinsProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return 'must be an object mapping an event type to a version';
  for (const [type, version] of Object.entries(value)) {
    if (!isKnownEventType(type)) return `${JSON.stringify(type)} is not an event type of the catalogue`;
    const supported = supportedVersions(type);
    if (!Number.isInteger(version) || !supported.includes(version as number))
      return `${type} has no version ${JSON.stringify(version)} (supported: ${supported.join(', ')})`;
  }
  return null;
}

/**
 * Validates with a function that returns the precise problem (or null), so the 400 says what is wrong; `schema`
 * states the same rule as JSON Schema for the OpenAPI document.
 */
function Check(
  name: string,
  problem: (value: unknown) => string | null,
  schema: object,
  options?: ValidationOptions,
) {
  return ValidateBy(
    {
      name,
      constraints: [schema],
      validator: {
        validate: (value) => problem(value) === null,
        defaultMessage: (args) => `${args?.property ?? name} ${problem(args?.value) ?? 'is invalid'}`,
      },
    },
    options,
  );
}

const eventTypePattern = (value: unknown) =>
  typeof value === 'string' && isValidEventTypePattern(value)
    ? null
    : `${JSON.stringify(value)} is not an event type, a prefix wildcard like order.* or *`;

/** An event type, a prefix wildcard of the catalogue (`order.*`) or `*`. */
export const IsEventTypePattern = (options?: ValidationOptions) =>
  Check('eventTypePattern', eventTypePattern, { type: 'string', enum: eventTypePatterns() }, options);

const VERSION_PINS_SCHEMA = {
  type: 'object',
  properties: Object.fromEntries(
    listEventTypes().map((t) => [t.type, { type: 'integer', enum: supportedVersions(t.type) }]),
  ),
  additionalProperties: false,
};

// The upper bound is the operator's (WEBHOOK_MAX_IN_FLIGHT_LIMIT): the service checks it, so it is not a constant here.
const MAX_IN_FLIGHT_DOC = {
  type: Number,
  nullable: true,
  minimum: 1,
  example: 32,
  description:
    "Requests open at once to this endpoint per dispatcher instance, from 1 to the operator's limit (48 by " +
    "default); absent or null: the operator's default (16 by default)",
};

export class CreateWebhookDto {
  @ApiProperty({ example: 'https://example.com/webhooks/tidings', maxLength: 2048 })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @ApiProperty({
    type: [String],
    example: ['order.*', 'message.received'],
    description: 'Exact event types, prefix wildcards (`order.*`) or `*`',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_EVENT_TYPES)
  @IsEventTypePattern({ each: true })
  eventTypes!: string[];

  @ApiPropertyOptional({ maxLength: MAX_DESCRIPTION, example: 'Fulfilment service' })
  @Nullable()
  @IsString()
  @MaxLength(MAX_DESCRIPTION)
  description?: string | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 512 },
    example: { team: 'fulfilment' },
  })
  @IfPresent()
  @IsStringMap()
  metadata?: Record<string, string>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { 'order.created': 1 },
    description: 'Event type → schema version delivered to this subscription (default: latest)',
  })
  @IfPresent()
  @Check('versionPins', versionPinsProblem, VERSION_PINS_SCHEMA)
  versionPins?: Record<string, number>;

  @ApiPropertyOptional({
    default: false,
    description: 'Strict per-resource FIFO: a delivery waits until earlier ones of its resource are done',
  })
  @IfPresent()
  @IsBoolean()
  strictOrdering?: boolean;

  @ApiPropertyOptional(MAX_IN_FLIGHT_DOC)
  @Nullable()
  @IsInt()
  @Min(1)
  maxInFlight?: number | null;
}

export class UpdateWebhookDto {
  @ApiPropertyOptional({ maxLength: 2048 })
  @IfPresent()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({ type: [String] })
  @IfPresent()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_EVENT_TYPES)
  @IsEventTypePattern({ each: true })
  eventTypes?: string[];

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: MAX_DESCRIPTION })
  @Nullable()
  @IsString()
  @MaxLength(MAX_DESCRIPTION)
  description?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string', maxLength: 512 } })
  @IfPresent()
  @IsStringMap()
  metadata?: Record<string, string>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'integer' } })
  @IfPresent()
  @Check('versionPins', versionPinsProblem, VERSION_PINS_SCHEMA)
  versionPins?: Record<string, number>;

  @ApiPropertyOptional()
  @IfPresent()
  @IsBoolean()
  strictOrdering?: boolean;

  @ApiPropertyOptional({
    ...MAX_IN_FLIGHT_DOC,
    description: `${MAX_IN_FLIGHT_DOC.description}; null: back to the default`,
  })
  @Nullable()
  @IsInt()
  @Min(1)
  maxInFlight?: number | null;

  @ApiPropertyOptional({
    enum: ['active', 'disabled'],
    description: 'Disable, or re-enable (which resets the consecutive failure count)',
  })
  @IfPresent()
  @IsIn(['active', 'disabled'])
  status?: 'active' | 'disabled';

  @ApiPropertyOptional({
    description:
      'Only when re-enabling: re-deliver every matching event committed since this time that the ' +
      'subscription did not receive successfully',
  })
  @IfPresent()
  @IsTimestamp()
  replayFrom?: string;
}

export class EnableWebhookDto {
  @ApiPropertyOptional({
    description:
      'Replay what the subscription missed since this time: its dead letters that died since then and the ' +
      'matching events committed while it was disabled. Default: its last successful delivery (or its creation)',
  })
  @IfPresent()
  @IsTimestamp()
  since?: string;

  @ApiPropertyOptional({ default: true, description: 'false: enable without replaying anything' })
  @IfPresent()
  @IsBoolean()
  replay?: boolean;

  @ApiPropertyOptional({
    default: false,
    description: 'Change nothing; answer how many deliveries would be replayed',
  })
  @IfPresent()
  @IsBoolean()
  dryRun?: boolean;
}

export class SendTestDto {
  @ApiPropertyOptional({ maxLength: 500, example: 'Hello from Tidings' })
  @IfPresent()
  @IsString()
  @Length(1, 500)
  message?: string;
}

export class PageQueryDto {
  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page' })
  @IfPresent()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT })
  @IfPresent()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_LIMIT)
  limit?: number;
}

export class WebhookDto {
  @ApiProperty({ example: 'whk_0193a4e27b1c7d4e8f00123456789abc' })
  id!: string;
  @ApiProperty()
  url!: string;
  @ApiProperty({ type: [String] })
  eventTypes!: string[];
  @ApiProperty({ type: String, nullable: true })
  description!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  metadata!: Record<string, string>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' } })
  versionPins!: Record<string, number>;
  @ApiProperty()
  strictOrdering!: boolean;
  @ApiProperty({
    example: 16,
    description:
      "Requests open at once to this endpoint per dispatcher instance: the subscription's own setting, or the " +
      "operator's default when it has none, capped at the operator's limit",
  })
  maxInFlight!: number;
  @ApiProperty({ enum: ['active', 'disabled'] })
  status!: 'active' | 'disabled';
  @ApiProperty({ type: String, nullable: true, example: 'consecutive_failures' })
  disabledReason!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  disabledAt!: string | null;
  @ApiProperty({
    description: 'Failed attempts in a row, in the order the endpoint answered, since its last success',
  })
  consecutiveFailures!: number;
  @ApiProperty({
    description: 'Deliveries dead-lettered in a row since its last success (disabled at 5 by default)',
  })
  consecutiveDeadLetters!: number;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When it last answered 2xx',
  })
  lastSuccessAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastFailureAt!: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the current failing streak began (null while healthy)',
  })
  failingSince!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  previousSecretExpiresAt!: string | null;
  @ApiProperty({ description: 'Bumped by every change (the `sequence` of its audit events)' })
  version!: number;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class CreatedWebhookDto extends WebhookDto {
  @ApiProperty({ description: 'The signing secret: shown only in this response', example: 'whsec_…' })
  secret!: string;
}

export class UpdatedWebhookDto extends WebhookDto {
  @ApiPropertyOptional({ description: 'Deliveries (re)scheduled by `replayFrom`' })
  replayedDeliveries?: number;
}

export class EnabledWebhookDto {
  @ApiProperty({ description: 'true: nothing was changed; replayCount is what the replay would schedule' })
  dryRun!: boolean;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  replayFrom!: string | null;
  @ApiProperty({ description: 'Deliveries (re)scheduled by the replay' })
  replayCount!: number;
  @ApiProperty({ type: WebhookDto })
  webhook!: WebhookDto;
}

export class WebhookPageDto {
  @ApiProperty({ type: [WebhookDto] })
  data!: WebhookDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page' })
  nextCursor!: string | null;
}

export class RotatedSecretDto {
  @ApiProperty()
  id!: string;
  @ApiProperty({ description: 'The new signing secret: shown only in this response' })
  secret!: string;
  @ApiProperty({ format: 'date-time', description: 'Until then the previous secret signs too' })
  previousSecretExpiresAt!: string;
}

export class TestSentDto {
  @ApiProperty({ format: 'uuid', description: 'The `webhook.test` event (its webhook-id)' })
  eventId!: string;
}
