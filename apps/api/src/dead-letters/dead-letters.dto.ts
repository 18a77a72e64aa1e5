import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsString, Matches, MaxLength } from 'class-validator';
import { PageQueryDto } from '../webhooks/webhooks.dto';
import { IfPresent } from '../http/optional.validator';
import { IsTimestamp } from '../http/timestamp.validator';

const EVENT_TYPE_SYNTAX = /^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$/;
const PATTERN_MESSAGE = 'eventType must be an event type, a prefix wildcard like order.* or *';

export class DeadLettersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'whk_0193a4e27b1c7d4e8f00123456789abc' })
  @IfPresent()
  @IsString()
  @MaxLength(100)
  subscriptionId?: string;

  @ApiPropertyOptional({ description: 'Exact type, prefix wildcard (order.*) or *' })
  @IfPresent()
  @IsString()
  @MaxLength(128)
  @Matches(EVENT_TYPE_SYNTAX, { message: PATTERN_MESSAGE })
  eventType?: string;
}

export class ReplayDeadLettersDto {
  @ApiPropertyOptional()
  @IfPresent()
  @IsString()
  @MaxLength(100)
  subscriptionId?: string;

  @ApiPropertyOptional({ description: 'Exact type, prefix wildcard (order.*) or *' })
  @IfPresent()
  @IsString()
  @MaxLength(128)
  @Matches(EVENT_TYPE_SYNTAX, { message: PATTERN_MESSAGE })
  eventType?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Died at or after this time' })
  @IfPresent()
  @IsTimestamp()
  since?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Died before this time' })
  @IfPresent()
  @IsTimestamp()
  until?: string;

  @ApiPropertyOptional({ default: false, description: 'Only count what would be replayed' })
  @IfPresent()
  @IsBoolean()
  dryRun?: boolean;
}
