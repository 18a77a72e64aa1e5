import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsISO8601, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IfPresent, PageQueryDto } from '../webhooks/webhooks.dto';

const EVENT_TYPE_SYNTAX = /^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$/;
const PATTERN_MESSAGE = 'eventType must be an event type, a prefix wildcard like order.* or *';

export class DeadLettersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'whk_0193a4e27b1c7d4e8f00123456789abc' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  subscriptionId?: string;

  @ApiPropertyOptional({ description: 'Exact type, prefix wildcard (order.*) or *' })
  @IsOptional()
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
  @IsISO8601({ strict: true })
  since?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Died before this time' })
  @IfPresent()
  @IsISO8601({ strict: true })
  until?: string;

  @ApiPropertyOptional({ default: false, description: 'Only count what would be replayed' })
  @IfPresent()
  @IsBoolean()
  dryRun?: boolean;
}
